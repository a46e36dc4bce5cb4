/* The record format of the power-cut log (shim.c writes it, powercut.c reads it). */
#ifndef POWERCUT_H
#define POWERCUT_H

#include <stdint.h>

/* op: 'W' a write to data.mdb (durable at the next sync), 'D' a write through an O_DSYNC
 * descriptor (durable on return), 'S' an fsync/fdatasync of data.mdb (every write before it is
 * durable), 'A' a line the program under test acknowledged, 'X' something the playback cannot
 * model (the test fails). len bytes of data follow the record. */
typedef struct pc_rec {
    char op;
    char pad[3];
    uint32_t len;
    uint64_t off;
} pc_rec;

#endif
