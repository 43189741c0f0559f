/* cmd_run.c — placeholder until `promo run` lands. */
#include <stdio.h>

#include "cli.h"

int cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "promo run: not implemented yet\n");
    return 2;
}
