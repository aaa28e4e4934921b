<?php
declare(strict_types=1);

namespace Bench;

final class Escaper
{
    public function html(string $s): string
    {
        return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
    }

    public function attr(string $s): string
    {
        return $this->html($s);
    }
}
