<?php
declare(strict_types=1);

namespace Bench;

final class Review extends Model
{
    public function __construct(int $id, public readonly int $stars, public readonly string $author)
    {
        parent::__construct($id);
    }

    public function toArray(): array
    {
        return ['id' => $this->id, 'stars' => $this->stars, 'author' => $this->author];
    }
}
