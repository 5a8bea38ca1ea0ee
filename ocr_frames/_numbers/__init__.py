"""The numbers printed on documents: their formats and check characters, as pure functions
of one value (no tables here).

* :mod:`.ric`: resident identity numbers, GB 11643 (check character ISO 7064 MOD 11-2,
  birth date, region code from :mod:`.regions`);
* :mod:`.uscc`: unified social credit codes, GB 32100 (and the legacy 15-digit numbers);
* :mod:`.vehicle`: VINs, ISO 3779 check digit (and plate formats);
* :mod:`.bank`: bank card numbers, Luhn (and the issuing bank by BIN);
* :mod:`.compact`: the normalisation every check applies first.

The checks (:mod:`ocr_frames.checks`) judge whole columns with them, and the local engine
(:mod:`ocr_frames.local`) proposes checksum-valid readings with them, so both agree on
what "valid" means.
"""
