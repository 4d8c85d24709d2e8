"""The CDK app of text2image (see app.py)."""
