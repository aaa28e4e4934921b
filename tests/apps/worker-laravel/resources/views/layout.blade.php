<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"><title>Laravel demo</title></head>
<body>
@yield('body')
</body>
</html>
