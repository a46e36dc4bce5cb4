/* The record format of the power-cut log (shim.c writes it, powercut.c reads it). */
#ifndef POWERCUT_H
#define POWERCUT_H

#include <stdint.h>

/* op: 'W' a write (durable at the file's next sync), 'D' a write through an O_DSYNC descriptor
 * (durable on return), 'S' an fsync/fdatasync (every write to the file before it is durable), 'A'
 * a line the program under test acknowledged, 'X' something the playback cannot model (the test
 * fails). file: 0 data.mdb, 1 wal (the write-ahead file). len bytes of data follow the record. */
#define PC_FILES 2
typedef struct pc_rec {
    char op;
    char file;
    char pad[2];
    uint32_t len;
    uint64_t off;
} pc_rec;

#endif
