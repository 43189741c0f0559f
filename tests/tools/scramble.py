#!/usr/bin/env python3
"""Scrambles the white space of a .rule file without changing its tokens, comments or
blank-line structure: spaces become random runs of spaces/tabs, single line breaks
between tokens may be joined or moved, indentation is randomised. `promo fmt` must turn
the result back into the original canonical file (tests/cli/fmt.sh)."""
import random
import sys

def scramble(text, rng):
    out = []
    i, n = 0, len(text)
    prev_tok_end = True  # at file start
    while i < n:
        c = text[i]
        if c == '"':  # string literal
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif c == '#':  # comment to end of line
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif c in ' \t\r\n':
            j = i
            while j < n and text[j] in ' \t\r\n':
                j += 1
            run = text[i:j]
            nl = run.count('\n')
            nxt = text[j] if j < n else ''
            if j >= n:
                out.append(run)  # keep the end of the file
            elif nl >= 2:
                out.append('\n\n' + rng.choice(['', ' ', '\t', '      ']))
            elif nxt == '#' or (out and out[-1].startswith('#')):
                # around comments the line structure is meaning: keep it
                out.append(('\n' if nl else ' ') + rng.choice(['', ' ', '  ', '\t'])
                           if nl else rng.choice([' ', '  ', '\t']))
            elif i == 0:
                out.append(run)
            else:
                out.append(rng.choice([' ', '  ', '\t', '\n', '\n  ', ' \n\t ']))
            i = j
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n"#':
                j += 1
            out.append(text[i:j])
            i = j
    return ''.join(out)

if __name__ == '__main__':
    src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(src) as f:
        t = f.read()
    with open(dst, 'w') as f:
        f.write(scramble(t, random.Random(seed)))
