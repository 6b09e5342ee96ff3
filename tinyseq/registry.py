"""Looking things up by the names Keras accepts in place of objects: "adam", "relu", "glorot_uniform"."""

from __future__ import annotations


class Registry:
    """A table of name -> object, looked up without regard to case, and the reverse lookup that
    `get_config` needs. An object listed under several names is serialised by its first one.

    Args:
        kind: what the entries are, for error messages ("loss", "activation", ...).
        entries: name -> object.
        alternative: what else the argument may be, appended to the unknown-name error.
    """

    def __init__(self, kind, entries, alternative=""):
        self.kind, self.entries, self.alternative = kind, dict(entries), alternative
        self.names = {}
        for name, entry in self.entries.items():
            self.names.setdefault(entry, name)

    def get(self, identifier):
        """The object called `identifier`; a callable is returned as it is.

        Raises:
            ValueError: for an unknown name (the message lists the valid ones).
        """
        if callable(identifier):
            return identifier
        if isinstance(identifier, str) and identifier.lower() in self.entries:
            return self.entries[identifier.lower()]
        raise ValueError(f"Unknown {self.kind} {identifier!r}; valid names: {', '.join(self.entries)}"
                         + (f" (or pass {self.alternative})" if self.alternative else ""))

    def name_of(self, entry):
        """The name a config stores for a built-in entry.

        Raises:
            ValueError: for a custom callable, which no name can rebuild.
        """
        if entry in self.names:
            return self.names[entry]
        raise ValueError(f"cannot serialize the custom {self.kind} {entry!r}; get_config can only "
                         f"name the built-in ones: {', '.join(self.entries)}")

    def serialize(self, instance):
        """An instance of a registered class as a JSON-able dict: its class name and `get_config()`.

        Raises:
            ValueError: for a class of your own, which a saved file could not rebuild.
        """
        self.name_of(type(instance))
        return {"class_name": type(instance).__name__, "config": instance.get_config()}

    def deserialize(self, config):
        """A new instance as a `serialize` dict describes it.

        Raises:
            ValueError: for an unknown class name (the message lists the known ones).
        """
        return self.get(str(config.get("class_name")))(**config["config"])
