{% if config_get("user.x", "") == "a" and not (trigger == "start") -%}
A {{ config["user.x"] }}
{%- elif devices.data.path != "" or properties.p %}B{% else %}C{% endif %}
{# comment -#}
{{- path }} {{ 12 }} {{ true }} {{ 's\n' }}
