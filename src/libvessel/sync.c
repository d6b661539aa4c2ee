#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

int sync_send(int fd, int type, int value, const char *text)
{
        struct {
                int type, value;
        } hdr = {type, value};
        size_t tlen = text ? strnlen(text, SYNC_TEXT_MAX - 1) : 0;
        struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)text, tlen}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = tlen ? 2 : 1};

        for (;;) {
                if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int sync_recv(int fd, struct sync_msg *m)
{
        struct {
                int type, value;
        } hdr;
        struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {m->text, SYNC_TEXT_MAX - 1}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r;

        do
                r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r < (ssize_t)sizeof(hdr))
                return -EPIPE;
        m->type = hdr.type;
        m->value = hdr.value;
        m->text[r - (ssize_t)sizeof(hdr)] = '\0';
        return 0;
}

int sync_expect(int fd, int type, struct sync_msg *m, vessel_error **err)
{
        int r = sync_recv(fd, m);

        if (r < 0)
                return vessel_error_set(err, -r, "container init: waiting for message %d", type);
        if (m->type == SYNC_ERROR) {
                /* init's message, already complete, with its errno as the code */
                return vessel_error_msg(err, m->value > 0 ? m->value : 0, "%s", m->text);
        }
        if (m->type != type)
                return vessel_error_set(err, EPROTO, "container init: expected message %d, got %d",
                                        type, m->type);
        return 0;
}
