/* Testbed smoke test for the librdkafka that .testbed/pkgconfig/rdkafka.pc selects:
 * prints rd_kafka_version_str() and fetches cluster metadata from a Tansu broker.
 * Build: cc rdkafka_smoke.c $(PKG_CONFIG_PATH=.testbed/pkgconfig pkg-config --cflags --libs rdkafka)
 * Run:   LD_LIBRARY_PATH=.testbed/rdkafka-lib ./a.out 127.0.0.1:19092   (exit 0 = metadata fetched) */
#include <stdio.h>
#include <librdkafka/rdkafka.h>

int main(int argc, char **argv) {
    const char *bootstrap = argc > 1 ? argv[1] : "127.0.0.1:19092";
    char err[512];
    printf("librdkafka %s\n", rd_kafka_version_str());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf: %s\n", err);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", err); return 2; }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "metadata from %s: %s\n", bootstrap, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("metadata from %s: %d broker(s)", bootstrap, md->broker_cnt);
    for (int i = 0; i < md->broker_cnt; i++)
        printf(" %d@%s:%d", md->brokers[i].id, md->brokers[i].host, md->brokers[i].port);
    printf(", %d topic(s)\n", md->topic_cnt);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return 0;
}
