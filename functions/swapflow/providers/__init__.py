"""Face-swap providers behind one protocol (base.Provider); `registry` builds them by name."""
