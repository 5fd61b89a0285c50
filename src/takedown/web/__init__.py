"""Server-rendered pages: the public report pages and the staff console."""
