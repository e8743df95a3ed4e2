"""In-memory user directory (stands in for the accounts database)."""

USERS = {
    "u-100": {"first_name": "Ada", "last_name": "Lovelace", "nickname": "ada"},
    "u-101": {"first_name": "Alan", "last_name": "Turing", "avatar_url": "/a/u-101.png"},
}


class Directory:
    def find(self, user_id):
        """The user's record, or None when there is no such user."""
        return USERS.get(user_id)
