"""Which wire names the simulator serves, and with which parameters.

Why: parameter lists come from the API description, never typed by hand, so
`MESSAGE_PARAMETER_COUNT_MISMATCH` and the conformance test agree with the
real XAPI. A module registers an explicit call by class and message name.
Every call also answers to xapi's alternative wire name `<class>_<message>`
(`event_from`, `VM_start`, also after `Async.`), which its generated
dispatcher matches beside the dotted one (ocaml/idl/ocaml_backend/gen_server.ml).
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(eq=False)
class Handler(object):
    """One served call: its wire name, description parameters and function.

    fn(call, *args) gets the arguments after the session. blocking handlers
    run without the pool lock (they take it themselves around short steps).
    slave_ok: served by a slave's own xapi instead of being forwarded.
    """

    cls: str
    message: str
    params: list
    fn: Callable
    blocking: bool = False
    slave_ok: bool = False
    async_ok: bool = False
    session: bool = True
    min_params: Optional[int] = None
    result: Optional[str] = None  # description type of the answer ("VM record", "int"...), for JSON-RPC typing
    name: str = field(init=False)

    def __post_init__(self):
        self.name = "%s.%s" % (self.cls, self.message)
        if self.min_params is None:
            self.min_params = len(self.params)

    def accepts(self, count):
        return self.min_params <= count <= len(self.params)


# classes whose explicit calls also exist as Async.<class>.<message>
ASYNC_CLASSES = ("pool", "VM", "VM_appliance", "host", "SR", "VDI", "VBD", "PBD", "PIF", "network")


class Handlers(dict):
    """{dotted wire name: Handler}; `get` also finds the `<class>_<message>` spelling.

    Iterating lists the dotted names only: real xapi's system.listMethods does not list the others.
    """

    def __init__(self):
        dict.__init__(self)
        self.aliases = {}

    def __setitem__(self, name, handler):
        dict.__setitem__(self, name, handler)
        self.aliases.setdefault(name.replace(".", "_", 1), name)

    def get(self, name, default=None):
        if name not in self and name in self.aliases:
            name = self.aliases[name]
        return dict.get(self, name, default)


class Registry(object):
    def __init__(self, desc):
        self.desc = desc
        self.handlers = Handlers()

    def explicit(self, cls, message, fn, **options):
        """Serve a message the description lists for cls (KeyError otherwise: a bug)."""
        desc = self.desc.message(cls, message)
        if desc is None:
            raise KeyError("%s.%s is not in the API description" % (cls, message))
        if "async_ok" not in options:
            # a slave's own calls (emergency transition) have no database to hold a task
            options["async_ok"] = cls in ASYNC_CLASSES and not desc["implicit"] and not options.get("slave_ok")
        if "session" not in options:
            options["session"] = bool(desc["params"]) and desc["params"][0][0] == "session ref"
        options.setdefault("result", desc["result"])
        self.handlers["%s.%s" % (cls, message)] = Handler(cls, message, desc["params"], fn, **options)

    def hidden(self, cls, message, params, fn, **options):
        """Serve a call the real XAPI serves but the description omits (get_all_records_where)."""
        self.handlers["%s.%s" % (cls, message)] = Handler(cls, message, params, fn, **options)
