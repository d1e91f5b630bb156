"""ASP.NET WebForms postbacks: the POST that `__doPostBack(target, argument)` sends.

SharePoint and mojoPortal listings page this way; there is no GET URL for
page 2. The browser posts the page's form with every field it holds (the
__VIEWSTATE among them) plus the event's target and argument.
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
from lxml import etree


def postback_form(
    html: str, url: str, target: str, argument: str = ""
) -> tuple[str, list[tuple[str, str]]] | None:
    """(action URL, form fields) of the postback, or None when the page has no form."""
    try:
        doc = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    forms = doc.xpath("//form[.//input[@name='__VIEWSTATE']]") or doc.xpath("//form")
    if not forms:
        return None
    form = forms[0]
    fields = [
        (name, value)
        for name, value in form.form_values()
        if name not in ("__EVENTTARGET", "__EVENTARGUMENT")
    ]
    fields += [("__EVENTTARGET", target), ("__EVENTARGUMENT", argument)]
    return urljoin(url, form.get("action") or url), fields
