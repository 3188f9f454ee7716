"""SMTP clients that can print the whole conversation, with every credential masked.

Why: `ha-cfg email_debug` must show admins what the server said (the old
product dumped the SMTP dialogue) without ever printing SMTP_PASS, in clear
or base64. Everything the client sends after an `AUTH` command, until the
server stops asking (reply code other than 334), is shown as `****`; any
literal occurrence of a secret elsewhere is masked too.

Only the public `send()`/`getreply()` hooks of smtplib are overridden.
"""

import base64
import smtplib

MASK = "****"


class _Transcript:
    """Mixin: `debug_stream` (a text stream or None) receives `C:`/`S:` lines."""

    def _setup_transcript(self, debug_stream, secrets):
        self._debug_stream = debug_stream
        self._masking = False
        self._secrets = []
        for secret in secrets or ():
            if secret:
                self._secrets.append(secret)
                self._secrets.append(base64.b64encode(secret.encode("utf-8")).decode("ascii"))

    def _scrub(self, text):
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def note(self, text):
        """A line of commentary (not part of the protocol)."""
        if self._debug_stream is not None:
            self._debug_stream.write("-- %s\n" % self._scrub(text))
            self._debug_stream.flush()

    def send(self, s):  # noqa: A003 - smtplib's name
        if self._debug_stream is not None:
            text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else str(s)
            lines = text.rstrip("\r\n").split("\r\n") if text else [""]
            head = lines[0]
            if head[:5].upper() == "AUTH ":
                parts = head.split(" ")
                shown = ["C: %s %s%s" % (parts[0], parts[1] if len(parts) > 1 else "",
                                          (" " + MASK) if len(parts) > 2 else "")]
                self._masking = True
            elif self._masking:
                shown = ["C: " + MASK]
            else:
                shown = ["C: " + self._scrub(line) for line in lines]
            self._debug_stream.write("\n".join(shown) + "\n")
            self._debug_stream.flush()
        return super().send(s)

    def getreply(self):
        code, message = super().getreply()
        if code != 334:
            self._masking = False
        if self._debug_stream is not None:
            text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
            for line in text.split("\n") or [""]:
                self._debug_stream.write("S: %s %s\n" % (code, self._scrub(line)))
            self._debug_stream.flush()
        return code, message


class DebugSMTP(_Transcript, smtplib.SMTP):
    """Plain SMTP (STARTTLS-capable) with an optional masked transcript."""

    def __init__(self, *args, debug_stream=None, secrets=(), **kwargs):
        self._setup_transcript(debug_stream, secrets)
        super().__init__(*args, **kwargs)


class DebugSMTP_SSL(_Transcript, smtplib.SMTP_SSL):
    """Implicit-TLS SMTP (port 465) with an optional masked transcript."""

    def __init__(self, *args, debug_stream=None, secrets=(), **kwargs):
        self._setup_transcript(debug_stream, secrets)
        super().__init__(*args, **kwargs)
