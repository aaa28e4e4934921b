<?php
declare(strict_types=1);

namespace Bench;

final class DateFormatter
{
    public function __construct(private string $format = 'j M Y')
    {
    }

    public function format(\DateTimeInterface $date): string
    {
        return $date->format($this->format);
    }
}
