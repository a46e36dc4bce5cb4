// A C++17 host built against an installed libentity (see run.sh), with every public core header
// included and the API used for real: a schema from JSON, a store of each backend open at once,
// create/get/update, a subscriber callback, a scan and an index look-up, RAII over the handles,
// threads writing to both stores while others read their own ent_errmsg(), the INIT macros and
// ent_key_id() (inline: compiled by the host's C++ compiler with its warnings). The host installs
// a SIGSEGV handler: the library must leave it, and SIGPIPE, as they were.
#include <entity/common.h>
#include <entity/entity.h>
#include <entity/error.h>
#include <entity/log.h>
#include <entity/mirror.h>
#include <entity/schema.h>
#include <entity/store.h>
#include <entity/value.h>
#include <entity/verify.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

namespace {

[[noreturn]] void fail(const char *what, int rc)
{
    std::fprintf(stderr, "host_cxx: %s: %s: %s\n", what, ent_strerror(rc), ent_errmsg());
    std::exit(1);
}
void check(int rc, const char *what)
{
    if (rc != ENT_OK) fail(what, rc);
}

struct StoreClose { void operator()(ent_store *s) const { ent_store_close(s); } };
struct EntityFree { void operator()(ent_entity *e) const { ent_entity_free(e); } };
struct IterFree { void operator()(ent_iter *it) const { ent_iter_free(it); } };
using Store = std::unique_ptr<ent_store, StoreClose>;
using Entity = std::unique_ptr<ent_entity, EntityFree>;
using Iter = std::unique_ptr<ent_iter, IterFree>;

const char schema_json[] = R"({"schema":"cxx","version":1,"types":{"note":{"key":"auto","fields":{
    "title":{"id":1,"type":"string","required":true,"indexed":true},
    "n":{"id":2,"type":"int","default":0}}}}})";

Store open_store(const ent_schema *schema, const char *backend, const char *path)
{
    ent_store_opts opts = ENT_STORE_OPTS_INIT;
    opts.backend = backend;
    ent_store *s = nullptr;
    check(ent_store_open(&s, path, schema, &opts), "ent_store_open");
    return Store(s);
}

void create(ent_store *s, const std::string &title)
{
    ent_entity *raw = nullptr;
    check(ent_entity_new(&raw, ent_store_type(s, "note")), "ent_entity_new");
    Entity e(raw);
    check(ent_entity_set_string(e.get(), "title", title.c_str()), "ent_entity_set_string");
    check(ent_create(s, nullptr, e.get()), "ent_create");
}

int count(ent_store *s)
{
    ent_range_opts r = ENT_RANGE_OPTS_INIT;
    ent_iter *raw = nullptr;
    check(ent_scan(&raw, s, nullptr, ent_store_type(s, "note"), nullptr, &r), "ent_scan");
    Iter it(raw);
    int n = 0;
    ent_entity *e = nullptr;
    while (ent_iter_next(&e, it.get()) == ENT_OK) {
        Entity owned(e);
        n++;
    }
    return n;
}

void on_segv(int) {}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: host_cxx LMDB_DIR\n");
        return 2;
    }
    struct sigaction segv {}, pipe_at_start {};
    segv.sa_handler = on_segv;
    sigaction(SIGSEGV, &segv, nullptr);
    sigaction(SIGPIPE, nullptr, &pipe_at_start); // as the test's runner left it (ignored, maybe)

    int major = -1, minor = -1, patch = -1;
    if (std::strcmp(ent_version(&major, &minor, &patch), ENT_VERSION_STRING) != 0 || major != ENT_VERSION_MAJOR)
        fail("ent_version", ENT_INVALID);

    ent_schema *schema = nullptr;
    check(ent_schema_load_json(&schema, schema_json, sizeof schema_json - 1, "cxx"), "ent_schema_load_json");
    Store disk = open_store(schema, "lmdb", argv[1]);
    Store mem = open_store(schema, "memory", nullptr);
    ent_schema_free(schema);

    std::vector<std::string> seen;
    ent_subscriber *sub = nullptr;
    check(ent_subscribe(&sub, disk.get(), ent_store_type(disk.get(), "note"), 0,
                        [](const ent_event *ev, void *payload) {
                            static_cast<std::vector<std::string> *>(payload)->push_back(ent_type_name(ev->type));
                        },
                        &seen),
          "ent_subscribe");

    // threads writing to both stores at once; two more each reading its own failure's message
    std::vector<std::thread> threads;
    for (ent_store *s : {disk.get(), mem.get(), disk.get()})
        threads.emplace_back([s] {
            for (int i = 0; i < 50; i++) create(s, "w" + std::to_string(i));
        });
    bool errmsg_ok[2] = {true, true};
    for (int t = 0; t < 2; t++)
        threads.emplace_back([&disk, &errmsg_ok, t] {
            for (int i = 0; i < 200; i++) {
                ent_key k = ent_key_id(1000000 + static_cast<uint64_t>(t));
                ent_entity *e = nullptr;
                if (ent_get(&e, disk.get(), nullptr, ent_store_type(disk.get(), "note"), &k) != ENT_NOTFOUND ||
                    !std::strstr(ent_errmsg(), std::to_string(1000000 + t).c_str()))
                    errmsg_ok[t] = false;
            }
        });
    for (auto &t : threads) t.join();
    if (!errmsg_ok[0] || !errmsg_ok[1]) fail("ent_errmsg() of another thread's failure", ENT_INVALID);

    ent_key k = ent_key_id(2);
    ent_entity *raw = nullptr;
    check(ent_get(&raw, disk.get(), nullptr, ent_store_type(disk.get(), "note"), &k), "ent_get");
    Entity got(raw);
    check(ent_entity_set_int(got.get(), "n", 42), "ent_entity_set_int");
    check(ent_update(disk.get(), nullptr, got.get(), ENT_VERSION_ANY), "ent_update");
    char *json = nullptr;
    check(ent_entity_to_json(&json, got.get(), 0), "ent_entity_to_json");
    bool json_ok = std::strstr(json, "\"n\":42") != nullptr;
    std::free(json);

    ent_value v = ent_value_string("w7");
    ent_iter *it_raw = nullptr;
    check(ent_find(&it_raw, mem.get(), nullptr, ent_type_field(ent_store_type(mem.get(), "note"), "title"), &v),
          "ent_find");
    Iter it(it_raw);
    int found = 0;
    ent_entity *e = nullptr;
    while (ent_iter_next(&e, it.get()) == ENT_OK) {
        Entity owned(e);
        found++;
    }
    it.reset();
    ent_unsubscribe(disk.get(), sub);

    struct sigaction now {};
    sigaction(SIGSEGV, nullptr, &now);
    bool signals_ok = now.sa_handler == on_segv;
    sigaction(SIGPIPE, nullptr, &now);
    signals_ok = signals_ok && now.sa_handler == pipe_at_start.sa_handler;

    int n_disk = count(disk.get()), n_mem = count(mem.get());
    mem.reset(); // closed in the other order than opened
    disk.reset();
    std::printf("host_cxx: disk %d mem %d events %zu found %d json %d signals %d\n", n_disk, n_mem, seen.size(),
                found, json_ok, signals_ok);
    return n_disk == 100 && n_mem == 50 && seen.size() == 101 && found == 1 && json_ok && signals_ok ? 0 : 1;
}
