"""Reading results: preflight (memory and offered load), and later stall diagnosis, SynOps
accounting and energy. May run the engine (a functional pass, a what-if); never imported by it."""
