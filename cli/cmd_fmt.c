/* cmd_fmt.c — placeholder until `promo fmt` lands. */
#include <stdio.h>

#include "cli.h"

int cmd_fmt(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "promo fmt: not implemented yet\n");
    return 2;
}
