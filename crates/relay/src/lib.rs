//! The mail text-ization SMTP relay.
