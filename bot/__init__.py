"""newsbot's Discord front-end. It uses `index` only through its public API."""
