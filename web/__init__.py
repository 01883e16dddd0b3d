"""The HTTP surfaces beside the bot (the check-in Mini App, then the managers' dashboard).

Like bot/, they turn a request into survey/ and aggregation/ calls and the outcome into a page
or a clear refusal, and hold no rule of their own. Everything a page sends is trusted only
after Telegram's signature on it has been checked (web.init_data).
"""
