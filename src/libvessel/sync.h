/* sync.h: the message protocol between the runtime and the container's
 * init process while the container is being created.  A SOCK_SEQPACKET
 * socketpair keeps message boundaries; every message is a type, an
 * integer and an optional text (an error message or a state JSON). */
#pragma once

#include <sys/types.h>
#include "error.h"

enum sync_type {
        SYNC_USERMAP_REQ = 1, /* init -> runtime: write my uid/gid maps (value = pid) */
        SYNC_USERMAP_DONE,    /* runtime -> init */
        SYNC_PID,             /* init -> runtime: the container's pid 1 is value (host pid) */
        SYNC_HOOKS_REQ,       /* init -> runtime: run prestart/createRuntime hooks now */
        SYNC_HOOKS_DONE,      /* runtime -> init; text = state JSON for createContainer hooks */
        SYNC_STATE_CREATED,   /* runtime -> init; text = state JSON for startContainer hooks */
        SYNC_READY,           /* init -> runtime: set up, waiting for start */
        SYNC_ERROR,           /* init -> runtime: value = errno, text = message */
        SYNC_GO,              /* runtime -> process: carry on (it is in its cgroup) */
        SYNC_ACK,             /* runtime -> init: recorded (the intermediate was reaped, or READY) */
};

#define SYNC_TEXT_MAX 16384

struct sync_msg {
        int type;
        int value;
        char text[SYNC_TEXT_MAX];
};

int sync_send(int fd, int type, int value, const char *text);
/* Receive one message; returns 0, or -EPIPE when the peer has gone. */
int sync_recv(int fd, struct sync_msg *m);
/* Receive and check the type; SYNC_ERROR from the peer becomes *err. */
int sync_expect(int fd, int type, struct sync_msg *m, vessel_error **err);
