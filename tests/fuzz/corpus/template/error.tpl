{% if a %}{% if b %}x{% endif %}
{% for x %}