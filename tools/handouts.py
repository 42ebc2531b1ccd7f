"""HTML handouts: ``make handouts`` renders every executed notebook to ``build/handouts/``,
with an ``index.html`` listing each one's title, what it shows, and the lecture claims it covers,
for teachers who post the lecture online. The notebooks are rendered as committed (with their
outputs and the saved state of their widgets), not run again.

A handout reads offline. Every widget is drawn from its saved state as static HTML (its slider
as a disabled ``<input type=range>`` with the value beside it, its figure as an ``<img>`` with a
data URI, its readout as saved), so no widget manager is loaded from anywhere. The only script
a page may still load is MathJax, and only where the notebook has mathematics; it is pinned to
one version (``MATHJAX_URL``), as is require.js (``REQUIRE_JS_URL``), loaded only where an
output runs JavaScript (none does today). Offline, the mathematics shows as its TeX source.
"""
from __future__ import annotations

import argparse
import copy
import html
import math
import re
from pathlib import Path

from lecture_utils.files import atomic_write_bytes

from .notebooks import NOTEBOOK_DIR, WIDGET_STATE, WIDGET_VIEW, claims_covered, notebook_paths

DEFAULT_OUT = NOTEBOOK_DIR.parent / "build" / "handouts"

# nbconvert's defaults are cdnjs URLs too, but its MathJax one is ``latest.js``, which looks up and
# loads the newest 2.x on the CDN; ``MathJax.js`` under the same folder loads exactly 2.7.7. Checked
# once in headless Chromium with MathJax 2.7.7's npm release served in place of the CDN: it typesets
# notebook 09's page, and every file it asks for lies under this 2.7.7 folder.
MATHJAX_URL = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REQUIRE_JS_URL = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"
MERMAID_JS_URL = "https://cdnjs.cloudflare.com/ajax/libs/mermaid/11.10.0/mermaid.esm.min.mjs"
MERMAID_ELK_JS_URL = "https://cdnjs.cloudflare.com/ajax/libs/mermaid-layout-elk/0.1.9/mermaid-layout-elk.esm.min.mjs"

STATIC_WIDGET_CLASS = "lecture-static-widget"
STATIC_NOTE = "Saved view of an interactive widget: open the notebook in JupyterLab to move it."

# nbconvert's "lab" page, less what a handout does not need: the widget manager (the widgets are
# static HTML now), and MathJax, require.js and mermaid where the page has nothing for them to do.
TEMPLATE_NAME = "lecture_handout.html.j2"
TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
{%- if resources.handout_scripts.requirejs -%}<script src="{{ resources.require_js_url }}"></script>{%- endif -%}
{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block extra_css %}
<style type="text/css">
.lecture-static-widget { border-left: 3px solid #d0d7de; padding: .3em .8em; margin: .2em 0; }
.lecture-static-widget .lecture-widget-box { display: flex; flex-direction: column; gap: .3em; align-items: flex-start; }
.lecture-static-widget .lecture-widget-hbox { flex-direction: row; flex-wrap: wrap; align-items: center; }
.lecture-static-widget .lecture-widget-control { display: flex; align-items: center; gap: .6em; }
.lecture-static-widget .lecture-widget-description { min-width: 6em; }
.lecture-static-widget input[type=range] { width: 18em; }
.lecture-static-widget .lecture-widget-value { font-family: var(--jp-code-font-family, monospace); }
.lecture-static-widget .lecture-widget-option { border: 1px solid #bbb; padding: .1em .5em; }
.lecture-static-widget .lecture-widget-option.selected { background: #e0e7ef; font-weight: bold; }
.lecture-static-widget img { max-width: 100%; }
.lecture-static-widget .lecture-widget-note { color: #666; font-size: 85%; margin-top: .3em; }
.lecture-static-widget .lecture-widget-unknown { color: #666; font-style: italic; }
</style>
{% endblock extra_css %}
{%- block html_head_js_mathjax -%}
{%- if resources.handout_scripts.mathjax -%}{{ super() }}{%- endif -%}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}
{%- if resources.handout_scripts.mermaid -%}{{ super() }}{%- endif -%}
{%- endblock html_head_js_mermaidjs -%}
"""


def title(nb) -> str:
    """The notebook's title: the first line of its first cell, without the '#'."""
    first = nb.cells[0].source.strip().splitlines()[0] if nb.cells else ""
    return first.lstrip("#").strip() or "untitled"


# ---------------------------------------------------------------------------------------------
# The index's one-sentence description of each notebook


_NOT_A_SENTENCE_END = ("al.", "e.g.", "i.e.", "etc.", "vs.", "cf.", "Fig.", "No.")
_TEX = {r"\cdot": "·", r"\times": "×", r"\to": "→", r"\ge": "≥", r"\le": "≤", r"\approx": "≈", r"\quad": " ",
        r"\alpha": "α", r"\beta": "β", r"\lceil": "⌈", r"\rceil": "⌉", r"\log": "log", r"\exp": "exp", r"\sum": "Σ"}


def _tex_as_text(tex: str) -> str:
    r"""Inline TeX as plain text, well enough for a sentence: ``N \cdot M`` -> ``N · M``."""
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", tex)
    tex = re.sub(r"\\(?:text|mathrm|mathbf|operatorname)\{([^{}]*)\}", r"\1", tex)
    for command, text in sorted(_TEX.items(), key=lambda kv: -len(kv[0])):
        tex = re.sub(re.escape(command) + r"(?![A-Za-z])", text, tex)
    tex = re.sub(r"\\([A-Za-z]+)", r"\1", tex).replace("\\", "")
    return re.sub(r"\s+", " ", tex.replace("{", "").replace("}", "")).strip()


def markdown_as_text(markdown: str) -> str:
    """Markdown (one paragraph) as plain text: no emphasis marks, links as their text, inline
    mathematics as readable text, one line."""
    text = re.sub(r"\s+", " ", markdown)
    text = re.sub(r"\$([^$]+)\$", lambda m: _tex_as_text(m.group(1)), text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![\w*])", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(text: str) -> str:
    """The first sentence of ``text``: up to the first '.', '!' or '?' followed by a space and a
    capital letter, outside parentheses and not ending an abbreviation ('et al.', 'e.g.')."""
    depth = 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char in ".!?" and depth == 0:
            rest = text[i + 1:]
            if (rest == "" or re.match(r"\s+[\"'“(*]?[A-Z0-9]", rest)) and not text[:i + 1].endswith(_NOT_A_SENTENCE_END):
                return text[:i + 1].strip()
    return text.strip()


def _paragraphs(markdown: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip()]


def _list_heads(paragraph: str) -> list[str]:
    """The bold lead-ins of a list's items (``1. **Logits (C9).** Can ...`` -> ``Logits (C9)``)."""
    heads = [markdown_as_text(h).rstrip(".:") for h in
             re.findall(r"^\s*(?:\d+\.|[-*+])\s+\*\*(.+?)\*\*", paragraph, flags=re.MULTILINE)]
    return [h[0].lower() + h[1:] if h and h.split()[0][1:] == h.split()[0][1:].lower() else h for h in heads]


SHORT_SENTENCE_WORDS = 12


def description(nb) -> str:
    """What the notebook shows, as plain text: the first sentence of the first paragraph of its
    opening markdown that is neither the title nor the ``Covers:`` line (and the next sentence
    too where the first has under ``SHORT_SENTENCE_WORDS`` words, "The lecture's closing point:
    the techniques are not rivals."). A sentence that only announces a list ("Three questions
    ...:") is completed with the list's bold lead-ins."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        paragraphs = _paragraphs(cell.source)
        for i, paragraph in enumerate(paragraphs):
            if paragraph.startswith("#") or re.match(r"Covers:", paragraph) or paragraph.startswith(("|", "```", "<")):
                continue
            text = markdown_as_text(paragraph)
            sentence = first_sentence(text)
            if len(sentence.split()) < SHORT_SENTENCE_WORDS and len(sentence) < len(text):
                sentence = f"{sentence} {first_sentence(text[len(sentence):].strip())}"
            if sentence.endswith(":"):
                heads = _list_heads(paragraphs[i + 1]) if i + 1 < len(paragraphs) else []
                if not heads and sentence == text and i + 1 < len(paragraphs):
                    heads = [first_sentence(markdown_as_text(paragraphs[i + 1])).rstrip(".")]
                sentence = sentence[:-1] + (": " + "; ".join(heads) + "." if heads else ".")
            return sentence
    return ""


# ---------------------------------------------------------------------------------------------
# Widgets as static HTML, from the state saved in the notebook

_BOXES = {"VBoxModel", "BoxModel", "HBoxModel", "GridBoxModel"}
_TITLED_BOXES = {"TabModel", "AccordionModel", "StackModel"}
_SLIDERS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel", "IntRangeSliderModel",
            "FloatRangeSliderModel", "SelectionSliderModel", "SelectionRangeSliderModel", "PlayModel"}
_PROGRESS = {"IntProgressModel", "FloatProgressModel"}
_SELECTIONS = {"DropdownModel", "SelectModel", "SelectMultipleModel", "RadioButtonsModel", "ToggleButtonsModel"}
_TEXTS = {"TextModel", "TextareaModel", "PasswordModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel",
          "BoundedFloatTextModel", "ComboboxModel", "ColorPickerModel", "DatePickerModel", "TagsInputModel"}
_BOOLEANS = {"CheckboxModel", "ToggleButtonModel", "ValidModel"}
_MAX_DEPTH = 32


def widget_models(nb) -> dict:
    """The saved widget models of ``nb``: model id -> {model_name, state, buffers, ...}."""
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}) or {}


def _kind(model) -> str:
    return model.get("model_name") or model.get("state", {}).get("_model_name") or "unknown"


def _kind_word(model) -> str:
    name = _kind(model)
    return name[:-len("Model")] if name.endswith("Model") else name


def _ref(value) -> str | None:
    return value[len("IPY_MODEL_"):] if isinstance(value, str) and value.startswith("IPY_MODEL_") else None


def _hidden(models, state) -> bool:
    layout = models.get(_ref(state.get("layout")) or "", {}).get("state", {})
    return layout.get("display") == "none" or layout.get("visibility") == "hidden"


def _format(value, fmt: str | None) -> str:
    """A readout as the widget shows it: ``fmt`` is d3-format's (the widgets' ``readout_format``),
    whose 'g' keeps trailing zeros unless marked '~' (Python's '#g')."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if fmt:
        spec = fmt.replace("~", "") if "~" in fmt else (re.sub(r"^([^\d.]*)", r"\1#", fmt) if fmt.endswith("g") else fmt)
        try:
            return format(int(value) if spec.endswith("d") else value, spec)
        except (ValueError, TypeError):
            pass
    return f"{value:g}" if isinstance(value, float) else str(value)


def _description(state) -> str:
    text = state.get("description") or ""
    if not text:
        return ""
    shown = text if state.get("description_allow_html") else html.escape(text)
    return f'<span class="lecture-widget-description">{shown}</span>'


def _control(state, inner: str, kind: str) -> str:
    return f'<div class="lecture-widget-control" data-widget="{html.escape(kind)}">{_description(state)}{inner}</div>'


def _buffer(model, name: str) -> str | None:
    """The base64 text of the binary field ``name`` (an Image's ``value``), from the model's
    buffers (how ipywidgets saves bytes) or, failing that, from its state."""
    import base64
    import binascii

    for buffer in model.get("buffers", []) or []:
        if list(buffer.get("path", [])) == [name]:
            data = buffer.get("data", "")
            if buffer.get("encoding") == "hex":
                try:
                    return base64.b64encode(bytes.fromhex(data)).decode()
                except ValueError:
                    return None
            return data or None
    value = model.get("state", {}).get(name)
    if isinstance(value, str) and value:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        return value
    return None


def _image(model) -> str:
    state = model.get("state", {})
    data = _buffer(model, "value")
    if not data:
        return '<span class="lecture-widget-unknown">[Image widget: no saved image]</span>'
    fmt = (state.get("format") or "png").lower()
    mime = {"svg": "image/svg+xml", "jpg": "image/jpeg", "url": "text/plain"}.get(fmt, f"image/{fmt}")
    size = "".join(f' {attr}="{html.escape(str(state[attr]))}"' for attr in ("width", "height") if state.get(attr))
    return f'<img src="data:{mime};base64,{data}"{size} alt="the widget\'s figure">'


def _slider(kind, state) -> str:
    value, low, high, step = state.get("value"), state.get("min", 0), state.get("max", 100), state.get("step", 1)
    if kind in ("SelectionSliderModel", "SelectionRangeSliderModel"):
        labels = state.get("_options_labels") or []
        index = state.get("index", 0)
        indices = list(index) if isinstance(index, (list, tuple)) else [index]
        shown = "–".join(html.escape(str(labels[i])) for i in indices if isinstance(i, int) and 0 <= i < len(labels))
        low, high, step, position = 0, max(len(labels) - 1, 0), 1, indices[0] if indices else 0
    elif kind == "FloatLogSliderModel":
        base = state.get("base", 10.0)
        position = math.log(value, base) if isinstance(value, (int, float)) and value > 0 and base > 0 else low
        shown = html.escape(_format(value, state.get("readout_format")))
    elif isinstance(value, (list, tuple)):  # a range slider
        position = value[0] if value else low
        shown = "–".join(html.escape(_format(v, state.get("readout_format"))) for v in value)
    else:
        position = value if isinstance(value, (int, float)) else low
        shown = html.escape(_format(value, state.get("readout_format")))
    vertical = ' style="writing-mode: vertical-lr; direction: rtl"' if state.get("orientation") == "vertical" else ""
    slider = (f'<input type="range" disabled min="{low}" max="{high}" step="{step}" value="{position}"{vertical}'
              f' aria-label="{html.escape(state.get("description") or "value")}">')
    return slider + f'<span class="lecture-widget-value">{shown}</span>'


def _selection(kind, state) -> str:
    labels = [str(label) for label in state.get("_options_labels") or []]
    index = state.get("index")
    chosen = set(index) if isinstance(index, (list, tuple)) else {index}
    if kind in ("DropdownModel", "SelectModel", "SelectMultipleModel"):
        multiple = " multiple" if kind == "SelectMultipleModel" else ""
        options = "".join(f'<option{" selected" if i in chosen else ""}>{html.escape(label)}</option>'
                          for i, label in enumerate(labels))
        return f'<select disabled{multiple} aria-label="{html.escape(state.get("description") or "choice")}">{options}</select>'
    return "".join(_option(label, i in chosen) for i, label in enumerate(labels))


def _option(label: str, selected: bool) -> str:
    """One button of a ToggleButtons (or a ToggleButton), the chosen one marked."""
    marked = ' selected" aria-pressed="true' if selected else '" aria-pressed="false'
    return f'<span class="lecture-widget-option{marked}">{html.escape(label)}</span>'


def _output_html(output, models, depth) -> str:
    """One saved output of an Output widget, as HTML."""
    import base64

    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        return f"<pre>{html.escape(_strip_ansi(text))}</pre>"
    if kind == "error":
        return f"<pre>{html.escape(_strip_ansi(chr(10).join(output.get('traceback', []))))}</pre>"
    data = output.get("data", {})

    def text_of(key):
        value = data.get(key, "")
        return "".join(value) if isinstance(value, list) else value

    if WIDGET_VIEW in data:
        return render_widget(data[WIDGET_VIEW].get("model_id"), models, depth + 1)
    for mime in ("image/png", "image/jpeg", "image/gif"):
        if mime in data:
            return f'<img src="data:{mime};base64,{text_of(mime).strip()}" alt="a saved figure">'
    if "image/svg+xml" in data:
        encoded = base64.b64encode(text_of("image/svg+xml").encode()).decode()
        return f'<img src="data:image/svg+xml;base64,{encoded}" alt="a saved figure">'
    if "text/html" in data:
        return f"<div>{text_of('text/html')}</div>"
    for mime in ("text/markdown", "text/latex", "text/plain"):
        if mime in data:
            return f"<pre>{html.escape(_strip_ansi(text_of(mime)))}</pre>"
    return ""


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def _unknown(model, what: str = "") -> str:
    detail = f": {what}" if what else ": its saved state is not drawn in the handout"
    return f'<span class="lecture-widget-unknown">[{html.escape(_kind_word(model))} widget{html.escape(detail)}]</span>'


def render_widget(model_id, models: dict, depth: int = 0) -> str:
    """The widget ``model_id`` and everything inside it as static HTML, from the saved ``models``."""
    model = models.get(model_id)
    if model is None:
        return f'<span class="lecture-widget-unknown">[a widget whose state was not saved ({html.escape(str(model_id))})]</span>'
    if depth > _MAX_DEPTH:
        return _unknown(model, "nested too deep to draw")
    kind, state = _kind(model), model.get("state", {})
    if kind in _BOXES | _TITLED_BOXES:
        children = [_ref(child) for child in state.get("children", [])]
        titles = state.get("titles") or state.get("_titles") or []
        if isinstance(titles, dict):  # ipywidgets 7: {"0": "first", ...}
            titles = [titles.get(str(i), "") for i in range(len(children))]
        parts = []
        for i, child in enumerate(children):
            if child in models and _hidden(models, models[child].get("state", {})):
                continue
            heading = titles[i] if i < len(titles) and titles[i] else ""
            parts.append((f"<div><b>{html.escape(str(heading))}</b></div>" if heading else "")
                         + render_widget(child, models, depth + 1))
        direction = " lecture-widget-hbox" if kind == "HBoxModel" else ""
        return f'<div class="lecture-widget-box{direction}" data-widget="{_kind_word(model)}">{"".join(parts)}</div>'
    if kind in ("LabelModel",):
        return f'<div class="lecture-widget-label">{_description(state)}{html.escape(str(state.get("value", "")))}</div>'
    if kind in ("HTMLModel", "HTMLMathModel"):
        return f'<div class="lecture-widget-html">{_description(state)}{state.get("value", "")}</div>'
    if kind == "ImageModel":
        return f'<div class="lecture-widget-image">{_image(model)}</div>'
    if kind == "OutputModel":
        return '<div class="lecture-widget-output">' + "".join(
            _output_html(output, models, depth) for output in state.get("outputs", [])) + "</div>"
    if kind in _SLIDERS:
        return _control(state, _slider(kind, state), _kind_word(model))
    if kind in _PROGRESS:
        value, high = state.get("value", 0), state.get("max", 100)
        return _control(state, f'<progress value="{value}" max="{high}"></progress>'
                               f'<span class="lecture-widget-value">{html.escape(_format(value, state.get("readout_format")))}</span>',
                        _kind_word(model))
    if kind in _SELECTIONS:
        return _control(state, _selection(kind, state), _kind_word(model))
    if kind in _BOOLEANS:
        on = bool(state.get("value"))
        if kind == "CheckboxModel":
            inner = f'<input type="checkbox" disabled{" checked" if on else ""}>'
        elif kind == "ToggleButtonModel":
            return _control({}, _option(state.get("description") or "", on), _kind_word(model))
        else:
            inner = ""
        return _control(state, inner + f'<span class="lecture-widget-value">{"on" if on else "off"}</span>', _kind_word(model))
    if kind in _TEXTS:
        value = state.get("value", "")
        value = ", ".join(map(str, value)) if isinstance(value, list) else _format(value, None) if value is not None else ""
        value = "•" * len(value) if kind == "PasswordModel" else value
        return _control(state, f'<span class="lecture-widget-value">{html.escape(value)}</span>', _kind_word(model))
    if kind == "ButtonModel":
        return _control({}, f'<button disabled>{html.escape(state.get("description") or "button")}</button>', _kind_word(model))
    if kind.endswith("StyleModel") or kind == "LayoutModel":
        return ""
    value = state.get("value")
    if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) < 200):
        described = f'{state["description"]} ' if state.get("description") else ""
        return _unknown(model, f"{described}value {_format(value, state.get('readout_format'))}")
    return _unknown(model)


def static_widgets(nb):
    """A copy of ``nb`` whose widget outputs are static HTML drawn from the saved widget state
    (``text/html``, the widget-view MIME type removed), without the widget state metadata, so
    that nbconvert loads no widget manager. ``nb`` itself is left as it was."""
    nb = copy.deepcopy(nb)
    models = widget_models(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                continue
            inner = render_widget(view.get("model_id"), models)
            output["data"] = {"text/html": (f'<div class="{STATIC_WIDGET_CLASS}" data-model-id="{html.escape(str(view.get("model_id")))}">'
                                            f'{inner}<div class="lecture-widget-note">{STATIC_NOTE}</div></div>')}
            output.setdefault("metadata", {})
    nb.metadata.pop("widgets", None)
    return nb


# ---------------------------------------------------------------------------------------------
# Which scripts a page needs

_MATH = re.compile(r"\$[^$\n]+\$|\$\$|\\\(|\\\[|\\begin\{")


def scripts_needed(nb) -> dict:
    """Which of MathJax, require.js and mermaid the rendered ``nb`` has any use for."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    mimes = {m for o in outputs for m in o.get("data", {})}
    html_outputs = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    return {
        "mathjax": bool(_MATH.search(markdown)) or "text/latex" in mimes or bool(_MATH.search(html_outputs)),
        "requirejs": "application/javascript" in mimes or "<script" in html_outputs,
        "mermaid": "```mermaid" in markdown,
    }


def exporter():
    """nbconvert's HTML exporter with the handout's template and every script URL pinned."""
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(template_file=TEMPLATE_NAME, extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
                        mathjax_url=MATHJAX_URL, require_js_url=REQUIRE_JS_URL, mermaid_js_url=MERMAID_JS_URL,
                        mermaid_layout_elk_js_url=MERMAID_ELK_JS_URL)


def handout_html(nb, html_exporter=None) -> str:
    """The handout page of notebook ``nb`` (left unchanged)."""
    page = static_widgets(nb)
    resources = {"metadata": {"name": title(nb)}, "handout_scripts": scripts_needed(page)}
    body, _ = (html_exporter or exporter()).from_notebook_node(page, resources=resources)
    return body


def write_handouts(out: Path = DEFAULT_OUT, paths: list[Path] | None = None) -> list[Path]:
    """Write a handout for each notebook (default: all of them) into ``out``, and ``index.html``."""
    import nbformat

    out = Path(out)
    html_exporter = exporter()
    rows, written = [], []
    for path in notebook_paths() if paths is None else paths:
        nb = nbformat.read(path, as_version=4)
        relative = Path(path).resolve().relative_to(NOTEBOOK_DIR).with_suffix(".html")
        written.append(atomic_write_bytes(out / relative, handout_html(nb, html_exporter).encode()))
        rows.append(f'<tr><td><a href="{html.escape(relative.as_posix())}">{html.escape(title(nb))}</a></td>'
                    f"<td>{html.escape(description(nb))}</td>"
                    f"<td>{html.escape(', '.join(claims_covered(nb)))}</td></tr>")
    index = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Network compression: the lecture</title>"
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.4em .8em;"
             "text-align:left;vertical-align:top;border-bottom:1px solid #ddd}td:first-child{min-width:14em}"
             "td:last-child{white-space:nowrap}</style></head><body>\n"
             "<h1>Network compression, the interactive lecture</h1>\n"
             "<p>Each notebook as run, with its outputs and each slider's figure and readout as saved. "
             "Open the notebooks in JupyterLab to move the sliders.</p>\n"
             "<table><tr><th>notebook</th><th>what it shows</th><th>lecture claims</th></tr>\n"
             + "\n".join(rows) + "\n</table>\n</body></html>\n")
    written.append(atomic_write_bytes(out / "index.html", index.encode()))
    return written


def main(argv=None) -> None:
    """The command line (``make handouts``): write every handout and the index into ``--out``."""
    parser = argparse.ArgumentParser(description="Render every notebook to HTML with an index page.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    written = write_handouts(args.out)
    print(f"wrote {len(written) - 1} handouts and index.html into {args.out}")


if __name__ == "__main__":
    main()
