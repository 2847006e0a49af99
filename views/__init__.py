"""What the web serves, built by the worker from the snapshot: the payload, the page's
table rows and the CSV export. Pure, like the model: no I/O here."""
