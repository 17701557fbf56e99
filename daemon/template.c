/* %{name} substitution in profile templates. */
#include "daemon/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

static const char *lookup(const TemplateVar *vars, const char *name, size_t len) {
    for (const TemplateVar *v = vars; v && v->name; v++)
        if (strlen(v->name) == len && strncmp(v->name, name, len) == 0)
            return v->value;
    return NULL;
}

int template_expand(const char *tmpl, const TemplateVar *vars, char **ret, const char **ret_missing) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return -ENOMEM;
    int r = 0;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == '%') {
            fputc('%', f);
            p++;
        } else if (p[0] == '%' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                r = -EINVAL;
                break;
            }
            const char *v = lookup(vars, p + 2, (size_t)(end - p - 2));
            if (!v) {
                if (ret_missing) {
                    for (const TemplateVar *t = vars; t && t->name; t++)
                        if (strlen(t->name) == (size_t)(end - p - 2) &&
                            strncmp(t->name, p + 2, (size_t)(end - p - 2)) == 0)
                            *ret_missing = t->name;
                }
                r = -ENOENT;
                break;
            }
            fputs(v, f);
            p = end;
        } else
            fputc(*p, f);
    }
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    return 0;
}
