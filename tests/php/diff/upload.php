<?php
// multipart/form-data through PHP's rfc1867 handler: text fields, files in f[] and
// single fields; everything that does not depend on the random tmp_name.
header('Content-Type: text/plain; charset=UTF-8');
echo "POST=", json_encode($_POST, JSON_UNESCAPED_SLASHES), "\n";
echo "input_len=", strlen(file_get_contents('php://input')), "\n";

function describe(string $field, string $name, string $type, string $tmp, int $error, int $size, string $full): void
{
    echo "$field: name=", json_encode($name), " full_path=", json_encode($full), " type=", json_encode($type),
        " size=$size error=$error";
    if ($error === UPLOAD_ERR_OK) {
        echo " md5=", md5_file($tmp), " is_uploaded=", is_uploaded_file($tmp) ? 'yes' : 'no';
        $dest = tempnam(sys_get_temp_dir(), 'diffup');
        $moved = move_uploaded_file($tmp, $dest);
        echo " moved=", $moved ? 'yes' : 'no';
        if ($moved) {
            echo " moved_md5=", md5_file($dest);
        }
        @unlink($dest);
        echo " tmp_gone=", file_exists($tmp) ? 'no' : 'yes';
    } else {
        echo " tmp_name_empty=", $tmp === '' ? 'yes' : 'no';
    }
    echo "\n";
}

ksort($_FILES);
foreach ($_FILES as $field => $f) {
    if (is_array($f['name'])) {
        foreach (array_keys($f['name']) as $i) {
            describe("{$field}[$i]", $f['name'][$i], $f['type'][$i], $f['tmp_name'][$i], $f['error'][$i],
                $f['size'][$i], $f['full_path'][$i] ?? '(none)');
        }
    } else {
        describe($field, $f['name'], $f['type'], $f['tmp_name'], $f['error'], $f['size'], $f['full_path'] ?? '(none)');
    }
}
