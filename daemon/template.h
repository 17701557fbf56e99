/* %{name} substitution in profile templates (subject, SANs, paths). */
#pragma once

typedef struct TemplateVar {
    const char *name;
    const char *value;
} TemplateVar;

/* Expand %{name} from vars (NULL-name terminated). An unknown name or a
 * variable without a value is -ENOENT (ret_missing names it). "%%" is "%". */
int template_expand(const char *tmpl, const TemplateVar *vars, char **ret, const char **ret_missing);
