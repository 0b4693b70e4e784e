// The one door to librdkafka. pkg-config's rdkafka.pc gives no include path, hence the prefix.
#include <librdkafka/rdkafka.h>
// librdkafka's in-process mock cluster (test.mock.num.brokers): tests only, named as an imitation there.
#include <librdkafka/rdkafka_mock.h>
#include <dlfcn.h>
#include <stddef.h>

// IncrementalAlterConfigs exists from librdkafka 2.2 on; Debian ships 2.0.2 headers and library.
// Look it up at run time so the same binary uses it with a newer library (and with brokers
// that lack legacy AlterConfigs) and falls back to AlterConfigs with Debian's 2.0.2.
typedef rd_kafka_error_t *(*cdc_add_incremental_fn)(rd_kafka_ConfigResource_t *, const char *, int, const char *);
typedef void (*cdc_incremental_alter_fn)(rd_kafka_t *, rd_kafka_ConfigResource_t **, size_t,
                                         const rd_kafka_AdminOptions_t *, rd_kafka_queue_t *);
typedef const void *(*cdc_incremental_result_fn)(rd_kafka_event_t *);
typedef const rd_kafka_ConfigResource_t **(*cdc_incremental_resources_fn)(const void *, size_t *);

static inline int cdc_has_incremental_alter_configs(void) {
    return dlsym(RTLD_DEFAULT, "rd_kafka_IncrementalAlterConfigs") != NULL
        && dlsym(RTLD_DEFAULT, "rd_kafka_ConfigResource_add_incremental_config") != NULL;
}

/// Adds a SET (op 0) or DELETE (op 1) entry; returns an error string or NULL.
static inline const char *cdc_add_incremental_config(rd_kafka_ConfigResource_t *res, const char *name, int op,
                                                     const char *value, char *errbuf, size_t errlen) {
    cdc_add_incremental_fn fn = (cdc_add_incremental_fn)dlsym(RTLD_DEFAULT, "rd_kafka_ConfigResource_add_incremental_config");
    if (!fn) return "IncrementalAlterConfigs is not in this librdkafka";
    rd_kafka_error_t *error = fn(res, name, op, value);
    if (!error) return NULL;
    snprintf(errbuf, errlen, "%s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return errbuf;
}

static inline void cdc_incremental_alter_configs(rd_kafka_t *rk, rd_kafka_ConfigResource_t **configs, size_t n,
                                                 const rd_kafka_AdminOptions_t *options, rd_kafka_queue_t *queue) {
    cdc_incremental_alter_fn fn = (cdc_incremental_alter_fn)dlsym(RTLD_DEFAULT, "rd_kafka_IncrementalAlterConfigs");
    if (fn) fn(rk, configs, n, options, queue);
}

/// The resources of an IncrementalAlterConfigs result event, or NULL if it is another event.
static inline const rd_kafka_ConfigResource_t **cdc_incremental_alter_result_resources(rd_kafka_event_t *ev, size_t *cnt) {
    cdc_incremental_result_fn result = (cdc_incremental_result_fn)dlsym(RTLD_DEFAULT, "rd_kafka_event_IncrementalAlterConfigs_result");
    cdc_incremental_resources_fn resources = (cdc_incremental_resources_fn)dlsym(RTLD_DEFAULT, "rd_kafka_IncrementalAlterConfigs_result_resources");
    if (!result || !resources) return NULL;
    const void *r = result(ev);
    if (!r) return NULL;
    return resources(r, cnt);
}

/// rd_kafka_conf_set_dr_msg_cb with a plain C function pointer type Swift can produce.
typedef void (*cdc_dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *);
static inline void cdc_conf_set_dr_msg_cb(rd_kafka_conf_t *conf, cdc_dr_msg_cb cb) {
    rd_kafka_conf_set_dr_msg_cb(conf, cb);
}
