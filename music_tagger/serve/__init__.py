"""``music-tagger serve``: a tagged library behind an HTTP API and a web page.

==================  ==============================================================
module              what lives there
==================  ==============================================================
:mod:`.library`     the library folders, their records and the background job
:mod:`.index`       the SQLite index built from the records
:mod:`.app`         the Starlette app: the ``/v1`` API and the page
:mod:`.requests`    checked query options and capped uploads
:mod:`.openapi`     the API's OpenAPI document
``static/``         the page: HTML, JavaScript and CSS, no build step
==================  ==============================================================

Needs ``music_tagger[serve]`` (Starlette, uvicorn, onnxruntime); never imports
TensorFlow or Keras.

Examples
--------
>>> from music_tagger.serve import Library, create_app
>>> app = create_app(Library(["/music"]))          # doctest: +SKIP
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {"Library": "library", "Index": "index", "create_app": "app"})
