"""Private: turn the entries of an images column into sources (bytes + sha256, or why not).

A column entry may be a file path (``str``, :class:`pathlib.Path`, any
:class:`os.PathLike`, a ``file://`` URL), an ``http(s)://`` URL, a ``data:`` URI or a bare
base64 string, a path on any fsspec filesystem (``s3://``, ``gs://``, ``abfs://``,
``memory://`` ...: any other ``protocol://``), raw image bytes, or a null.  Every entry
becomes exactly one ``Source``; a problem with one entry is recorded on its Source
(``errcode`` from :data:`ocr_frames._errors.LOCAL_CODES` plus a printable ``errmsg``) and
never raised, so a batch always comes back whole and in input order.

Checks happen here, before anything is sent (and billed): size (the platform wants images
*smaller* than ``MAX_IMAGE_BYTES``; a bigger file is rejected from its ``fstat`` size
without being read), emptiness, and the format, sniffed from the first bytes (JPEG, PNG,
GIF, BMP, WebP, TIFF; truncated JPEGs and PNG decompression bombs are refused).  With
``shrink``, what the platform cannot take as it is (too big, PDF, multi-page TIFF, HEIC)
is re-encoded into JPEG pages.

The modules, each importing only those above it:

* ``limits``: ``MAX_IMAGE_BYTES``, ``MAX_IMAGE_PIXELS`` and the ``DEFAULT_*`` read limits
  and timeouts, each defined once (the WeChat client and its emulator use them too);
* ``sniff``: the one table of magic numbers: ``sniff_image``, ``is_image``,
  ``document_type``;
* ``messages``: paths, URLs and exceptions made safe to print (``display_url``);
* ``shrink``: re-encoding into JPEG pages (Pillow; PDF and HEIC through optional extras);
* ``source``: ``Source``, ``Pages``, ``ByteBudget``, ``POSTPONED``, the ``Reader`` settings;
* ``classify``: what kind of location an entry is (``classify``, ``ValueKind``);
* ``finish``: hash, sniff, size check and re-encoding, the end of every read;
* ``paths``: local files and ``file://`` URLs;
* ``read``: ``load_local`` for every entry that needs no HTTP client (also bytes, data
  URIs, base64, fsspec paths);
* ``download``: ``download`` of one URL under a :class:`~ocr_frames._http.urlpolicy.UrlPolicy`;
* ``batch``: ``load_sources``, a whole column at once, each distinct path or URL read once.

Other packages import ``batch.load_sources``, ``download.download``, the ``source`` types
and the ``limits`` directly from these modules; this package re-exports nothing.
"""
