"""Commands that leave for Redis in batches while they are queued: one MULTI/EXEC
(`Transaction`), or plain pipelined writes that never hold Redis up (`Batches`)."""

from __future__ import annotations

from typing import Any, Literal

import redis
from redis.commands import CoreCommands
from redis.exceptions import ExecAbortError, WatchError

from store.histories import as_bytes
from store.lease import LeaseLost


class Transaction(CoreCommands):
    """One MULTI/EXEC whose commands leave for Redis in batches while they are being queued.

    redis-py's transactional pipeline holds every command until execute() and then packs
    them all into one more copy: at 10,000 gateways about 100 MB of values, held twice.
    Here a batch is packed and sent once about a megabyte of values waits (a large value
    goes at once), its QUEUED replies are read, and nothing of it stays in this process.
    Redis applies every command at EXEC, so readers still see all old or all new.

    The commands are redis-py's own (`set`, `rpush`, … from CoreCommands); they answer
    nothing until execute(). The connection comes from the client's pool; leaving the
    `with` block without execute() (an error half way) closes it, and Redis drops whatever
    was queued. Not thread-safe: one transaction per thread, like a pipeline.

    With `fence=(key, owner)` the transaction only applies while `key` holds `owner`: the key
    is WATCHed and read before MULTI (LeaseLost when it is not ours), and EXEC applies
    nothing when it changed in between (WatchError: taken, or renewed by our heartbeat).
    """

    # What redis-py's typing asks of a command mixin's host (the sync overloads; no events).
    _is_async_client: Literal[False] = False
    _event_dispatcher: Any = None

    ATOMIC = True

    def __init__(
        self,
        client: redis.Redis,
        *,
        batch_bytes: int = 1 << 20,
        fence: tuple[str, str] | None = None,
    ) -> None:
        self._pool = client.connection_pool
        self.reader = redis.Redis(connection_pool=self._pool)
        """A client on the same pool, for reads a write needs before its EXEC."""
        self._batch_bytes = batch_bytes
        self._waiting: list[tuple[Any, ...]] = []  # queued here, not yet sent
        self._waiting_bytes = 0
        self._unanswered = 0  # sent, QUEUED reply not read yet
        self._errors: list[redis.ResponseError] = []  # commands Redis refused to queue
        self.commands = 0
        self._answered = False  # EXEC's reply read: the connection is clean again
        self._connection: Any = self._pool.get_connection()
        if not self.ATOMIC:
            return
        try:
            if fence is not None:
                self._watch(*fence)
            self._connection.send_command("MULTI")
            self._connection.read_response()
        except BaseException:
            self.close()
            raise

    def _watch(self, key: str, owner: str) -> None:
        """WATCH the fence key and check it names `owner`, before MULTI on this connection."""
        self._connection.send_command("WATCH", key)
        self._connection.read_response()
        self._connection.send_command("GET", key)
        holder = self._connection.read_response()
        if holder is None or as_bytes(holder).decode() != owner:
            raise LeaseLost(f"{key} is not held by {owner}")

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Queue one command (what every CoreCommands method calls); sends a full batch."""
        if self._connection is None:
            raise redis.RedisError("this transaction is finished")
        self._waiting.append(args)
        self._waiting_bytes += sum(len(a) if isinstance(a, bytes | str) else 8 for a in args)
        self.commands += 1
        if self._waiting_bytes >= self._batch_bytes:
            self._send(one_in_flight=True)
        return None

    def _send(self, *, one_in_flight: bool = False) -> None:
        """Send what waits, then read the replies owed, so neither side piles them up. With
        `one_in_flight` the batch just sent stays unanswered: Redis applies it while the
        next one is packed here (its few small replies wait in the socket), instead of this
        process waiting for every batch in turn."""
        connection = self._connection
        sent = 0
        if self._waiting:
            # No health-check PING inside MULTI: Redis would queue it and answer QUEUED.
            connection.send_packed_command(
                connection.pack_commands(self._waiting), check_health=False
            )
            sent = len(self._waiting)
            self._unanswered += sent
            self._waiting = []
            self._waiting_bytes = 0
        owed = self._unanswered - sent if one_in_flight else self._unanswered
        for _ in range(owed):
            self._unanswered -= 1
            try:
                connection.read_response()
            except redis.ResponseError as error:  # e.g. a wrong argument: EXEC will abort
                self._errors.append(error)

    def execute(self) -> list[Any]:
        """EXEC: apply every queued command at once; raises the first error of any."""
        if self._connection is None:
            raise redis.RedisError("this transaction is finished")
        if not self.ATOMIC:
            return self._flush()
        try:
            self._send()
            self._connection.send_command("EXEC", check_health=False)
            try:
                replies = self._connection.read_response()
            except ExecAbortError:
                self._answered = True
                if self._errors:
                    raise self._errors[0] from None
                raise
            self._answered = True
        finally:
            self.close()
        if replies is None:  # a WATCHed key changed: Redis applied nothing
            raise WatchError("the fence key changed before EXEC; nothing was applied")
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return list(replies)

    def _flush(self) -> list[Any]:
        """Send the rest, read every reply, give the connection back; raise the first error."""
        try:
            self._send()
            self._answered = True
        finally:
            self.close()
        if self._errors:
            raise self._errors[0]
        return []

    def close(self) -> None:
        """Give the connection back, closed first unless EXEC was answered: Redis then drops
        what was queued, and no reply is left unread for the connection's next user."""
        connection, self._connection = self._connection, None
        self._waiting = []
        if connection is None:
            return
        if not self._answered:
            connection.disconnect()
        self._pool.release(connection)


class Batches(Transaction):
    """Writes sent in pipelined batches of about a megabyte, each applied as it arrives:
    Redis serves other clients between them (no MULTI holds it). execute() sends the rest
    and raises the first error Redis answered. For staging a refresh before its switch."""

    ATOMIC = False
