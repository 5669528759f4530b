"""newsbot's Discord front-end. It uses `index` only through its public API.

bot = NewsBot(NewsIndex(store), Storage.beside(store))   # see bot/cli.py for the real start-up
"""
