"""mkdocs hook: the notebook page shows the GIF the notebook holds. nbconvert's HTML templates
draw PNG, JPEG and SVG outputs but show a GIF's text fallback; this puts the GIF in its place."""

import html
import json
from pathlib import Path


def on_page_content(content, page, config, files):
    if page.file.src_uri != "tutorial.ipynb":
        return content
    notebook = json.loads(Path(page.file.abs_src_path).read_text())
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/gif" in data and "text/plain" in data:
                fallback = f"<pre>{html.escape(''.join(data['text/plain']), quote=False)}</pre>"
                gif = "".join(data["image/gif"]).replace("\n", "")
                image = f'<img alt="an animation" src="data:image/gif;base64,{gif}">'
                content = content.replace(fallback, image, 1)
    return content
