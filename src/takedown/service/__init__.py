"""Use cases over storage and the pure core: banks, content, the live index. The API and the
CLI both call these, so that every console action is also an API call."""
