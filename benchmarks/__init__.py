"""Paper reproductions: one script per table or figure, paper values beside ours."""
