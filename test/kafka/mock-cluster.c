/*
 * A real Kafka-protocol cluster for tests: librdkafka's mock cluster, driven
 * over stdin so that a test can take brokers down and inject protocol errors.
 *
 *   kafka-mock-cluster BROKERS [TOPIC:PARTITIONS ...]
 *
 * Prints "BOOTSTRAP host:port,..." once the brokers listen, then answers each
 * command line with "OK" or "ERR message":
 *
 *   down BROKER_ID | up BROKER_ID       (broker ids start at 1)
 *   errors APIKEY ERRCODE COUNT          (the next COUNT requests of APIKEY fail)
 *   quit
 *
 * It exits on "quit", at EOF on stdin and when its parent dies, so that a
 * crashed test run never leaves brokers behind. The mock brokers bind to
 * 127.0.0.1 (INADDR_LOOPBACK in rd_kafka_mock_broker_new), never to a
 * public interface.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 1000

static int parse_int(const char *text, long min, long max, long *out) {
        char *end;
        long value;

        errno = 0;
        value = strtol(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0' || value < min ||
            value > max)
                return -1;
        *out = value;
        return 0;
}

/* Creates NAME:PARTITIONS; replicated on every broker (up to 3) like a real cluster. */
static int create_topic(rd_kafka_mock_cluster_t *mcluster,
                        const char *spec,
                        int broker_cnt) {
        char name[256];
        const char *colon = strrchr(spec, ':');
        long partitions;
        size_t len;
        rd_kafka_resp_err_t err;

        if (!colon || colon == spec ||
            parse_int(colon + 1, 1, 10000, &partitions) == -1) {
                fprintf(stderr, "bad topic '%s', expected name:partitions\n",
                        spec);
                return -1;
        }
        len = (size_t)(colon - spec);
        if (len >= sizeof(name)) {
                fprintf(stderr, "topic name too long: '%s'\n", spec);
                return -1;
        }
        memcpy(name, spec, len);
        name[len] = '\0';

        err = rd_kafka_mock_topic_create(mcluster, name, (int)partitions,
                                         broker_cnt < 3 ? broker_cnt : 3);
        if (err) {
                fprintf(stderr, "cannot create topic '%s': %s\n", name,
                        rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

static void reply(rd_kafka_resp_err_t err) {
        if (err)
                printf("ERR %s\n", rd_kafka_err2str(err));
        else
                printf("OK\n");
        fflush(stdout);
}

static void push_errors(rd_kafka_mock_cluster_t *mcluster,
                        long api_key,
                        long err_code,
                        long count) {
        rd_kafka_resp_err_t errors[MAX_ERRORS];
        long i;

        for (i = 0; i < count; i++)
                errors[i] = (rd_kafka_resp_err_t)err_code;
        rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)api_key,
                                                (size_t)count, errors);
}

/* Runs one command line; returns 1 when the cluster should stop. */
static int run_command(rd_kafka_mock_cluster_t *mcluster, char *line) {
        char *words[5];
        int n = 0;
        char *save = NULL;
        char *word;
        long a, b, c;

        for (word = strtok_r(line, " \t\r\n", &save); word && n < 5;
             word = strtok_r(NULL, " \t\r\n", &save))
                words[n++] = word;

        if (n == 0) {
                printf("ERR empty command\n");
        } else if (!strcmp(words[0], "quit") && n == 1) {
                printf("OK\n");
                fflush(stdout);
                return 1;
        } else if (!strcmp(words[0], "down") && n == 2 &&
                   parse_int(words[1], -1, 1000, &a) == 0) {
                reply(rd_kafka_mock_broker_set_down(mcluster, (int32_t)a));
                return 0;
        } else if (!strcmp(words[0], "up") && n == 2 &&
                   parse_int(words[1], -1, 1000, &a) == 0) {
                reply(rd_kafka_mock_broker_set_up(mcluster, (int32_t)a));
                return 0;
        } else if (!strcmp(words[0], "errors") && n == 4 &&
                   parse_int(words[1], 0, 32767, &a) == 0 &&
                   parse_int(words[2], -1000, 1000, &b) == 0 &&
                   parse_int(words[3], 1, MAX_ERRORS, &c) == 0) {
                push_errors(mcluster, a, b, c);
                printf("OK\n");
        } else {
                printf("ERR unknown or malformed command\n");
        }
        fflush(stdout);
        return 0;
}

int main(int argc, char **argv) {
        char errstr[512];
        char line[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mcluster;
        long broker_cnt;
        int i;

        /* A test runner killed with SIGKILL cannot clean up; the kernel tells us instead. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) {
                perror("prctl(PR_SET_PDEATHSIG)");
                return 1;
        }
        if (getppid() == 1) /* the parent died before prctl took effect */
                return 1;

        if (argc < 2 || parse_int(argv[1], 1, 100, &broker_cnt) == -1) {
                fprintf(stderr,
                        "usage: %s BROKERS [TOPIC:PARTITIONS ...]\n",
                        argv[0]);
                return 2;
        }

        /* The mock cluster needs an rd_kafka_t for bookkeeping only; it never produces. */
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", "3", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "rd_kafka_new: %s\n", errstr);
                return 1;
        }

        mcluster = rd_kafka_mock_cluster_new(rk, (int)broker_cnt);
        if (!mcluster) {
                fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        for (i = 2; i < argc; i++) {
                if (create_topic(mcluster, argv[i], (int)broker_cnt) == -1) {
                        rd_kafka_mock_cluster_destroy(mcluster);
                        rd_kafka_destroy(rk);
                        return 2;
                }
        }

        printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
        fflush(stdout);

        while (fgets(line, sizeof(line), stdin)) {
                if (run_command(mcluster, line))
                        break;
        }

        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 0;
}
