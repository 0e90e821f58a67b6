#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <spawn.h>

/* glibc >= 2.34 has it but declares it only under _GNU_SOURCE. EmbeddedMosquitto needs it so that
   the broker it spawns inherits none of the caller's sockets. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
