"""The subject's rights over its file: consent, inquiries, disputes, notices, access, statements."""
