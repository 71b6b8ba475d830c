"""Records: the files npmatrix writes and reads back (results.json, probe files, history, merge, schemas)."""
