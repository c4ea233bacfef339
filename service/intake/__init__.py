"""Bringing in evidence the user already has elsewhere: mailbox files, IMAP folders, mail forwarded to Docket."""
