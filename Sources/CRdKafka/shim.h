// librdkafka's client API and its built-in mock cluster (the mock header needs rdkafka.h first).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
