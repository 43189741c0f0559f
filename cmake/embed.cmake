# Writes OUT, a C file defining `const char NAME[]`: the bytes of IN and a NUL.
# Used to build docs/diagnostics.md into `promo explain`.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed.cmake */\nextern const char ${NAME}[];\nconst char ${NAME}[] = {${arr}0};\n")
