"""Private: the WeChat-protocol HTTP server that ``ocr_frames.testing`` (the emulator) and
``ocr-frames serve`` (:mod:`ocr_frames.local`) both build on; see docs/architecture.md."""
