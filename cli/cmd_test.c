/* cmd_test.c — placeholder until `promo test` lands. */
#include <stdio.h>

#include "cli.h"

int cmd_test(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "promo test: not implemented yet\n");
    return 2;
}
