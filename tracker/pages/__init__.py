"""Server-rendered portfolio pages for signed-in staff: overview, tune pages, what-if."""
