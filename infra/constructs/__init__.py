"""One construct per concern; :class:`infra.calling_box.CallingBox` composes them."""
