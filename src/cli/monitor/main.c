/* vesselctl-monitor: the monitor of one instance (src/manager/monitor.h).
 * Run by `vesselctl start`, never by people. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"name", required_argument, NULL, 'n'},
            {"rundir", required_argument, NULL, 'd'},
            {"runtime", required_argument, NULL, 'r'},
            {"runtime-root", required_argument, NULL, 'R'},
            {"log", required_argument, NULL, 'l'},
            {"ring-size", required_argument, NULL, 's'},
            {"ctl", required_argument, NULL, 'c'},
            {"store", required_argument, NULL, 'S'},
            {0},
        };
        struct monitor_opts o = {.ring_size = MONITOR_RING_DEFAULT};
        int opt;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (opt) {
                case 'n':
                        o.name = optarg;
                        break;
                case 'd':
                        o.rundir = optarg;
                        break;
                case 'r':
                        o.runtime = optarg;
                        break;
                case 'R':
                        o.runtime_root = optarg;
                        break;
                case 'l':
                        o.log = optarg;
                        break;
                case 's':
                        o.ring_size = strtoul(optarg, NULL, 10);
                        break;
                case 'c':
                        o.ctl = optarg;
                        break;
                case 'S':
                        o.store = optarg;
                        break;
                default:
                        return 2;
                }
        }
        if (!o.name || !o.rundir || !o.runtime || !o.runtime_root || !o.log || !o.ctl || !o.store ||
            !o.ring_size) {
                fputs("vesselctl-monitor: run by vesselctl start, not by hand\n", stderr);
                return 2;
        }
        return monitor_main(&o);
}
