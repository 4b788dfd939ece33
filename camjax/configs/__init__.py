"""The packaged configs: ``default`` (every key, with its default) and ``demo``.

``camjax.config.load`` merges a config file onto ``default``; the paper and ablation
recipes under ``experiments/configs/`` start from these.
"""
